"""The agent desktop link: screen pops, the agent websocket, agent REST, the CTI listener."""
