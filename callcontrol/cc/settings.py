"""What the active Communication Centre Definition means for search, sections and actions."""

from __future__ import annotations

from dataclasses import dataclass

from callcontrol.cc.fields import ACTIONS, DEFAULT_ADVANCED, DEFAULT_QUICK, FIELDS
from callcontrol.crm.models import CommunicationCentreDefinition

# "No number of records" means no restriction in the seeds; a page still has to end
# somewhere, so unlimited pages are this long.
UNLIMITED_PAGE = 100


@dataclass(frozen=True)
class Settings:
    number_of_records: int | None = 20
    default_operator: str = "like"
    communications_limit: int | None = None
    quick_fields: tuple[str, ...] = DEFAULT_QUICK
    advanced_fields: tuple[str, ...] = DEFAULT_ADVANCED
    allowed_actions: tuple[str, ...] = tuple(ACTIONS)
    region: str = "CY"

    @property
    def page_size(self) -> int:
        return self.number_of_records or UNLIMITED_PAGE

    @property
    def section_limit(self) -> int | None:
        """Rows per contact section; None shows them all, as the seeds say."""
        return self.number_of_records

    @classmethod
    def from_definition(cls, d: CommunicationCentreDefinition | None,
                        region: str = "CY") -> Settings:
        if d is None:
            return cls(region=region)
        fields = d.search_fields or {}
        return cls(
            number_of_records=d.number_of_records,
            default_operator=d.default_search_operator,
            communications_limit=d.communications_limit,
            quick_fields=_known(fields.get("quick", ())),
            advanced_fields=_known(fields.get("advanced", ())),
            allowed_actions=tuple(a for a in (d.allowed_actions or ()) if a in ACTIONS),
            region=region,
        )


def _known(keys: object) -> tuple[str, ...]:
    if not isinstance(keys, list | tuple):
        return ()
    return tuple(k for k in keys if isinstance(k, str) and k in FIELDS)
