"""ipset_entry_from_api builds the normalised entry in one step (large sets are read often):
it must give exactly what normalising the entry as PVE returned it gives."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from ansible_collections.pve.firewall.plugins.module_utils._compiler.api_mapping import ipset_entry_from_api
from ansible_collections.pve.firewall.plugins.module_utils._compiler.normalise import normalise_ipset_entry, optional_text
from ansible_collections.pve.firewall.plugins.module_utils._model.objects import IPSetEntry

CIDRS = st.one_of(
    st.sampled_from(["10.0.0.1", "10.0.0.1/32", "10.0.0.7/24", " 10.0.0.0/8 ", "2001:DB8::1/128", "2001:db8::7/64"]),
    st.sampled_from(["Office", "dc/Office", "guest/x1", "bogus!"]),
    st.from_regex(r"[0-9]{1,3}(\.[0-9]{1,3}){3}(/[0-9]{1,2})?", fullmatch=True),
)
FLAGS = st.sampled_from([0, 1, "0", "1", "", None, True, False])
COMMENTS = st.one_of(st.none(), st.sampled_from(["", "  ", " vpn ", "x # y"]))


@given(CIDRS, FLAGS, COMMENTS)
def test_same_as_normalising_the_raw_entry(cidr, nomatch, comment):
    data = {"cidr": cidr, "digest": "d"}
    if nomatch is not None:
        data["nomatch"] = nomatch
    if comment is not None:
        data["comment"] = comment
    raw = IPSetEntry(cidr, str(data.get("nomatch", 0)) not in ("0", "", "False", "None"), optional_text(comment))
    assert ipset_entry_from_api(data) == normalise_ipset_entry(raw)
