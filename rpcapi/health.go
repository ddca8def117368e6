package rpcapi

// ChecksInStateRequest asks for the checks in one state (Health.ChecksInState).
type ChecksInStateRequest struct {
	QueryOptions
	State           string
	NodeMetaFilters map[string]string
}

// ServiceChecksRequest asks for the checks of one service (Health.ServiceChecks).
type ServiceChecksRequest struct {
	QueryOptions
	ServiceName     string
	NodeMetaFilters map[string]string
}
