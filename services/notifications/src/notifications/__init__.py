"""The notifications service: tells each customer, once, how their order ended."""
