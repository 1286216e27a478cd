"""The core: state machine, session, policy, backend client, clock, config, logging.

Never imports pygame or sim/; reaches devices only through their adapter interfaces.
"""
