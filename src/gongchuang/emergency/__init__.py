"""Social emergency response (社会化应急): AED registry, responder network, 120 intake,
matching and alerting, the dispatcher console and coverage analysis."""
