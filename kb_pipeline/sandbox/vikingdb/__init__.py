"""The sandbox's Volcengine VikingDB knowledge base: its API (`api`, whose `VENDOR` the sandbox serves) and the records
it serves, generated from the seed (`records`)."""
