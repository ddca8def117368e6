package fsm

import (
	"fmt"

	"github.com/hashicorp/go-memdb"
	"github.com/hashicorp/go-msgpack/v2/codec"
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

func aclCommands() map[MessageType]command {
	return map[MessageType]command{
		ACLTokenSetRequestType:     aclCmd("token set", acl.ApplyTokenSet),
		ACLTokenDeleteRequestType:  aclCmd("token delete", acl.ApplyTokenDelete),
		ACLPolicySetRequestType:    aclCmd("policy set", acl.ApplyPolicySet),
		ACLPolicyDeleteRequestType: aclCmd("policy delete", acl.ApplyPolicyDelete),
		ACLRoleSetRequestType:      aclCmd("role set", acl.ApplyRoleSet),
		ACLRoleDeleteRequestType:   aclCmd("role delete", acl.ApplyRoleDelete),
		ACLBootstrapRequestType:    aclCmd("bootstrap", acl.ApplyBootstrap),
		ACLInitRequestType:         aclCmd("init", acl.ApplyInit),
	}
}

// aclCmd adapts one acl write: decode a *Req, apply it, return no result.
func aclCmd[Req any](what string, fn func(*memdb.Txn, uint64, *Req) error) command {
	return func(tx *memdb.Txn, idx uint64, dec *codec.Decoder) (any, error) {
		var req Req
		if err := dec.Decode(&req); err != nil {
			return nil, fmt.Errorf("fsm: decode acl %s: %w", what, err)
		}
		return nil, fn(tx, idx, &req)
	}
}
