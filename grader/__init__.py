"""The grader domain. Its one public face is :mod:`grader.api`; its errors are rooted in :mod:`grader.errors`."""
