"""Genomics: DNA sequence data, tokenisation and the sequence-classification pipeline.

Empty for now; filled by the genomics work that adds DNA data loading, nucleotide tokenisation
and the Titans-based classifier training and evaluation.
"""
