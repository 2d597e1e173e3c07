"""The protocol language: schema-validated YAML/JSON protocols, matching of series to sequences, rules."""

from protocheck.protocol.loader import list_builtin_protocols, load_protocol, load_protocol_text
from protocheck.protocol.model import Protocol

__all__ = ["Protocol", "list_builtin_protocols", "load_protocol", "load_protocol_text"]
