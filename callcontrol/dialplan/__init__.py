"""Dialplan kit: checks (asterisklint + our own) for the files in dialplan/."""
