package up
