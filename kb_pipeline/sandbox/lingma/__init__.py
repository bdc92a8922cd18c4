"""The sandbox's Alibaba Tongyi Lingma (Yunxiao OpenAPI): its API (`api`, whose `VENDOR` the sandbox serves) and the records
it serves, generated from the seed (`records`)."""
