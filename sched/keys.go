package sched

// SpecPrefix is the KV prefix under which service specs live.
const SpecPrefix = "shoal/services/"
