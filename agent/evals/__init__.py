"""Evals of tool use: arithmetic word problems and BFCL function calling. Pure functions
returning data; `agent eval` (agent.cli.evals) runs them and prints the results."""
