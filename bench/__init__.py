"""`make bench`: measured performance of creneau, each figure beside a reference from the same run."""
