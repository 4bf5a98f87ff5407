"""The app's screens: dashboard, labeling, gallery, and the help and class-list dialogs."""
