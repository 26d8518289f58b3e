"""What every stage shares: the landmark schema and pose types, atomic file writes, the
data and cache folders, optional imports that name their extra, and the shipped assets.

May import: nothing of ours (numpy and the standard library only). Every other package in
``edge`` may import it.
"""
