"""Business rules. Public functions are use cases ``verb_noun(actor, ...)``, each one transaction.

Services never import ``request``/``session``/``g``: views and jobs pass the actor in.
"""
