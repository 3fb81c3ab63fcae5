"""The assistant domain. Its one public face is :mod:`assistant.api`; its errors: :mod:`assistant.errors`."""
