"""The sandbox's Alibaba PAI LangStudio: its API (`api`, whose `VENDOR` the sandbox serves) and the records
it serves, generated from the seed (`records`)."""
