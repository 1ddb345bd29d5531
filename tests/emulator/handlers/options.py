"""Options of every level (reference 1.6): GET shows only the keys set in the file, PUT
deletes then sets. The cluster ``enable`` > 1 stores the current time (the 60 s auto-revert,
reference 5.4); the other levels coerce ``enable`` to 0/1.
"""

from __future__ import annotations

from dataclasses import replace

from ansible_collections.pve.firewall.plugins.module_utils._compiler.options import normalise_option
from ansible_collections.pve.firewall.plugins.module_utils._reference.options_data import SCHEMA_OPTIONS

from ..context import Call
from ..digests import object_digest
from ..errors import param_error
from ..routes import Handler
from ..schema import split_list
from ..targets import TargetResolver
from ..views import option_values
from .common import check_digest, modify


def get_options(resolve: TargetResolver) -> Handler:
    def handler(call: Call) -> dict[str, object]:
        values = option_values(call.ctx.store.read(resolve(call).key))
        return {**values, "digest": object_digest(values)}

    return handler


def set_options(resolve: TargetResolver) -> Handler:
    def handler(call: Call) -> None:
        target = resolve(call)
        level = target.option_level
        known = SCHEMA_OPTIONS[level]
        params = call.params
        with modify(call, target.key) as txn:
            check_digest(object_digest(option_values(txn.fw)), params.get("digest"))
            options = dict(txn.fw.options)
            for name in split_list(params.get("delete", "")):
                if name not in known:
                    raise param_error("delete", f"no such option '{name}'")
                options.pop(name, None)
            for key in known:
                if key not in params:
                    continue
                value = params[key]
                if key == "enable" and level == "cluster":
                    options[key] = int(call.ctx.clock.now()) if value > 1 else value
                    continue
                canonical = normalise_option(level, key, value, location=f"{level} options")[0]
                options[key] = canonical if canonical is not None else value
            txn.save(replace(txn.fw, options=options))

    return handler
