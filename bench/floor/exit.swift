// The smallest static Swift program: the start-up cost of the Swift runtime alone, for make bench.
