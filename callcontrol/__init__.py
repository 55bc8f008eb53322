"""callcontrol: telephony-first call control on Asterisk ARI with a CRM Communication Centre."""

__version__ = "0.1.0"
