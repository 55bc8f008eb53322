"""Agents: CTI login/logout and the one agent state machine every part of callcontrol uses."""
