"""Our own checks on the Asterisk configuration files, beyond what asterisklint knows.

They keep the files and callcontrol's configuration in step: every ``Stasis()`` names the
configured application, every FastAGI URL points at the configured port, ``ari.conf`` has
the user callcontrol signs in as, ``http.conf`` serves ARI where callcontrol looks for it,
and every PJSIP endpoint's context exists in the dialplan.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from callcontrol.dialplan.findings import Finding

REQUIRED_CONTEXTS = ("from-trunk", "from-agents", "outbound")
AGI_DEFAULT_PORT = 4573
_SECTION = re.compile(r"^\[([^\]]+)\](?:\(([^)]*)\))?")
_STASIS = re.compile(r"\bStasis\(([^,)]*)", re.IGNORECASE)
_AGI = re.compile(r"agi://([^/:\s,)]+)(?::([^/\s,)]+))?", re.IGNORECASE)
_VAR = re.compile(r"^\$\{([A-Za-z0-9_]+)\}$")
# Shell access from a file anyone with the engineer role can edit in a browser would turn a
# stolen web session into commands on the Asterisk host.
_SHELL = re.compile(r"\b(TrySystem|System)\(|\$\{SHELL\(", re.IGNORECASE)


@dataclass
class Section:
    name: str
    line: int
    values: dict[str, str] = field(default_factory=dict)


def parse(text: str) -> tuple[list[Section], list[tuple[int, str]]]:
    """Sections of an Asterisk .conf file and its code lines (comments stripped)."""
    sections: list[Section] = []
    lines: list[tuple[int, str]] = []
    for no, raw in enumerate(text.splitlines(), 1):
        code = raw.split(";")[0].strip()
        if not code:
            continue
        lines.append((no, code))
        if m := _SECTION.match(code):
            sections.append(Section(m[1].strip(), no))
        elif sections and "=" in code:
            key, _, value = code.partition("=")
            sections[-1].values[key.strip().lstrip(">").strip()] = value.strip().lstrip(">")
    return sections, lines


def _resolve(value: str, globals_: dict[str, str]) -> str:
    value = value.strip()
    m = _VAR.match(value)
    return globals_.get(m[1], value) if m else value


def dialplan_rules(name: str, text: str, config: Any) -> list[Finding]:
    """Stasis app names and FastAGI ports in any file, plus the required contexts."""
    sections, lines = parse(text)
    globals_ = next((s.values for s in sections if s.name == "globals"), {})
    found = []
    for no, code in lines:
        if m := _SHELL.search(code):
            found.append(Finding(name, no, f"{m[0].strip('${(')}() runs shell commands on the "
                                 "Asterisk host: not allowed in the files callcontrol manages"))
        for app in _STASIS.findall(code):
            if (resolved := _resolve(app, globals_)) != config.ari.app:
                found.append(Finding(name, no, f"Stasis() names {resolved!r}, expected the "
                                     f"configured application {config.ari.app!r} (ari.app)"))
        for _host, port in _AGI.findall(code):
            raw = _resolve(port, globals_) if port else str(AGI_DEFAULT_PORT)
            if not raw.isdigit() or int(raw) != config.agi.port:
                found.append(Finding(name, no, f"FastAGI URL uses port {raw}, expected the "
                                     f"configured port {config.agi.port} (agi.port)"))
    if name.rsplit("/", 1)[-1] == "extensions.conf":
        present = {s.name for s in sections}
        found += [Finding(name, 0, f"missing context [{c}] (see the shipped extensions.conf)")
                  for c in REQUIRED_CONTEXTS if c not in present]
    return found


def ari_rules(name: str, text: str, config: Any) -> list[Finding]:
    sections, _ = parse(text)
    general = next((s for s in sections if s.name == "general"), None)
    found = []
    if general is None or general.values.get("enabled", "yes").lower() not in {"yes", "true"}:
        found.append(Finding(name, general.line if general else 0,
                             "ARI is not enabled: [general] needs enabled = yes"))
    user = next((s for s in sections if s.name == config.ari.username
                 and s.values.get("type") == "user"), None)
    if user is None:
        return [*found, Finding(name, 0, f"no ARI user [{config.ari.username}] with "
                                "type = user (ari.username)")]
    if user.values.get("read_only", "no").lower() in {"yes", "true"}:
        found.append(Finding(name, user.line, f"ARI user [{user.name}] is read_only: "
                             "callcontrol must answer and bridge calls"))
    plain = user.values.get("password_format", "plain") == "plain"
    if plain and user.values.get("password") != config.ari.password:
        found.append(Finding(name, user.line, f"password of ARI user [{user.name}] differs "
                             "from the configured ari.password (CALLCONTROL_ARI_PASSWORD)"))
    return found


def http_rules(name: str, text: str, config: Any) -> list[Finding]:
    sections, _ = parse(text)
    general = next((s for s in sections if s.name == "general"), None)
    if general is None or general.values.get("enabled", "no").lower() not in {"yes", "true"}:
        return [Finding(name, general.line if general else 0,
                        "the HTTP server carrying ARI is off: [general] needs enabled = yes")]
    url = urlsplit(config.ari.url)
    want = url.port or (443 if url.scheme == "https" else 80)
    port = general.values.get("bindport", "8088")
    found = []
    if url.scheme == "http" and port != str(want):
        found.append(Finding(name, general.line, f"bindport {port} but callcontrol reaches "
                             f"ARI at port {want} (ari.url {config.ari.url})"))
    loopback = {"127.0.0.1", "::1", "localhost"}
    if general.values.get("bindaddr") in loopback and url.hostname not in loopback:
        found.append(Finding(name, general.line, f"bindaddr {general.values['bindaddr']} only "
                             f"accepts local connections but ari.url host is {url.hostname}"))
    return found


def pjsip_rules(name: str, text: str, contexts: set[str] | None) -> list[Finding]:
    """Every endpoint's ``context`` must exist in extensions.conf (when it is known)."""
    if contexts is None:
        return []
    sections, _ = parse(text)
    return [Finding(name, s.line, f"endpoint [{s.name}] uses context "
                    f"{s.values['context']!r}, which extensions.conf does not define")
            for s in sections if "context" in s.values and s.values["context"] not in contexts]


def contexts_of(text: str) -> set[str]:
    return {s.name for s in parse(text)[0]}
