package server

import (
	"time"

	"github.com/shoalproject/shoal/acl"
	"github.com/shoalproject/shoal/server/fsm"
)

// initializeACLs makes sure, once per leadership, that the builtins exist
// (global-management policy, anonymous token) and, when configured, the
// initial management token. It retries until it succeeds or stop closes.
func (s *Server) initializeACLs(stop chan struct{}) {
	if !s.cfg.ACL.Enabled {
		return
	}
	for {
		err := s.applyACLInit()
		if err == nil {
			return
		}
		s.logger.Error("initializing ACLs failed", "error", err)
		select {
		case <-stop:
			return
		case <-time.After(time.Second):
		}
	}
}

func (s *Server) applyACLInit() error {
	tx := s.State().ReadTxn()
	_, anon, err := acl.TokenByAccessor(tx, nil, acl.AnonymousTokenID)
	_, pol, perr := acl.PolicyByID(tx, nil, acl.ManagementPolicyID)
	var mgmt *acl.Token
	secret := s.cfg.ACL.InitialManagement
	if err == nil && perr == nil && secret != "" {
		_, mgmt, err = acl.TokenBySecret(tx, nil, secret)
	}
	tx.Abort()
	if err != nil {
		return err
	}
	if perr != nil {
		return perr
	}
	req := acl.InitRequest{}
	if secret != "" && mgmt == nil {
		accessor, err := randomUUID()
		if err != nil {
			return err
		}
		req.Management = &acl.Token{AccessorID: accessor, SecretID: secret,
			Description: "Initial Management Token", CreateTime: time.Now().UTC()}
	}
	if anon != nil && pol != nil && req.Management == nil {
		return nil // nothing to write
	}
	req.Anonymous.CreateTime = time.Now().UTC()
	_, err = s.raftApply(fsm.ACLInitRequestType, &req)
	return err
}
