package render

// Vars maps variable names to their values for one call.
type Vars map[string]string
