"""Pure, stateless analyzers: what an action really does. Nothing here imports the engine."""
