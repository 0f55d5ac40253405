//! The simulated venue: matching, ITCH publisher, OUCH server, synthetic flow.
