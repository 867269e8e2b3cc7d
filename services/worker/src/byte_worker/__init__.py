"""The worker: one Temporal workflow type (`case`) interprets any workflow definition for one
case; activities publish what the case does to Kafka and send its email. No tables of its own."""
