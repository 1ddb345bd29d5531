"""Names the module kit had before it was split; modules import from the parts."""

from __future__ import annotations

from .arguments import CONNECTION_ARGS, LEVEL_CHOICES, RULE_SUBOPTIONS, SCOPE_ARGS, argument_spec, without_none  # noqa: F401
from .fw_text import fw_text, parse_running_config  # noqa: F401
from .references import check_rules, check_written_rules, rule_references, unknown_names  # noqa: F401
from .report import Report  # noqa: F401
from .runner import ModuleFailure, connect, fail, run_and_exit, scope_from_params  # noqa: F401
from .._model.errors import PveFirewallError as _Base

EXPECTED_ERRORS = (_Base,)
