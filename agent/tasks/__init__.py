"""Durable tasks: the Redis task store, its state machine, live events and the service every face calls.

This package never imports docker or slack_bolt: workers (agent.jobs, agent.worker) do the sandbox work.
"""
