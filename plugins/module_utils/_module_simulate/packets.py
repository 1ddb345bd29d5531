"""The packets of O(packets): each built as PVE's tests write it, then evaluated."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .._engine.endpoints import default_addresses, icmp_type_from_dport, parse_endpoint
from .._engine.verdict import Packet, Verdict, VerdictEngine, VerdictError
from .._model.inventory import Inventory
from .errors import SimulationError


@dataclass(frozen=True)
class Answer:
    """One packet as evaluated, defaults filled in, with its verdict."""

    name: str
    packet: Packet
    verdict: Verdict
    expected: str | None


def packet_name(spec: Mapping[str, Any]) -> str:
    return spec["name"] or f"{spec['from']} -> {spec['to']}"


def ask(engine: VerdictEngine, inventory: Inventory, index: int, spec: Mapping[str, Any]) -> Answer:
    """The verdict on ``packets[index]``; a packet the engine cannot place fails naming it."""
    name = packet_name(spec)
    try:
        source = parse_endpoint(spec["from"], inventory)
        dest = parse_endpoint(spec["to"], inventory)
        source_address, dest_address = default_addresses(source, dest, inventory, spec["source"], spec["dest"])
        dport, icmp_type = icmp_type_from_dport(spec["proto"], spec["dport"], spec["icmp_type"])
        packet = Packet(
            source=source_address,
            dest=dest_address,
            proto=spec["proto"],
            dport=int(dport) if dport is not None else None,
            sport=spec["sport"],
            icmp_type=icmp_type,
            srctype=spec["srctype"],
            dsttype=spec["dsttype"],
            source_mac=spec["source_mac"],
        )
        verdict = engine.evaluate(source, dest, packet)
    except VerdictError as error:
        raise SimulationError(f"packets[{index}] ({name}): {error}") from None
    return Answer(name, packet, verdict, spec["expect"])
