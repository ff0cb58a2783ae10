"""qdlib: inverse design of quantum-dot optical spectra with TD-DFT, surrogates and DDPG.

A reproduction of Yoshida et al., AIP Advances 12, 115316 (2022),
doi:10.1063/5.0127546.
"""

__version__ = "0.1.0"
