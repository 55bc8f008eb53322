"""A PBX simulator that speaks Asterisk ARI and behaves like the recorded Asterisk 22.

``PbxSimulator`` serves the ARI subset call control uses (REST + the events websocket) with
real call state, the lab dialplan of ``shared/ari/README.md`` and scripted callers and agent
phones, plus a ``/sim/`` control API. It drives the demo, the tests and the benchmarks.
"""

from callcontrol.pbxsim.engine import AriHttpError, PbxEngine
from callcontrol.pbxsim.model import Device, PersonScript, SimCall
from callcontrol.pbxsim.simulator import PbxSimulator

__all__ = ["AriHttpError", "Device", "PbxEngine", "PbxSimulator", "PersonScript", "SimCall"]
