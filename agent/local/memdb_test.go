package local

import "github.com/hashicorp/go-memdb"

type memdbTxn = memdb.Txn
