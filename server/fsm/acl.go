package fsm

import (
	"github.com/hashicorp/go-memdb"
	"github.com/shoalproject/shoal/acl"
)

// ACL command types (range 50-59).
const (
	ACLTokenSetRequestType     MessageType = 50
	ACLTokenDeleteRequestType  MessageType = 51
	ACLPolicySetRequestType    MessageType = 52
	ACLPolicyDeleteRequestType MessageType = 53
	ACLRoleSetRequestType      MessageType = 54
	ACLRoleDeleteRequestType   MessageType = 55
	ACLBootstrapRequestType    MessageType = 56
	ACLInitRequestType         MessageType = 57
)

func aclCommands(c commands) {
	registerACL(c, ACLTokenSetRequestType, "acl token set", acl.ApplyTokenSet)
	registerACL(c, ACLTokenDeleteRequestType, "acl token delete", acl.ApplyTokenDelete)
	registerACL(c, ACLPolicySetRequestType, "acl policy set", acl.ApplyPolicySet)
	registerACL(c, ACLPolicyDeleteRequestType, "acl policy delete", acl.ApplyPolicyDelete)
	registerACL(c, ACLRoleSetRequestType, "acl role set", acl.ApplyRoleSet)
	registerACL(c, ACLRoleDeleteRequestType, "acl role delete", acl.ApplyRoleDelete)
	registerACL(c, ACLBootstrapRequestType, "acl bootstrap", acl.ApplyBootstrap)
	registerACL(c, ACLInitRequestType, "acl init", acl.ApplyInit)
}

// registerACL registers an acl write, which returns no result.
func registerACL[T any](c commands, t MessageType, name string, apply func(*memdb.Txn, uint64, *T) error) {
	register(c, t, name, func(tx *memdb.Txn, idx uint64, req *T) (any, error) {
		return nil, apply(tx, idx, req)
	})
}
