"""eegzip: neural compression of EEG recordings."""
