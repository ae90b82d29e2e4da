package commands

// AccountSearcher finds customers across an account (management room).
type AccountSearcher interface{}
