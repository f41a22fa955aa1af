package sopsenc

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/getsops/sops/v3"
	"github.com/getsops/sops/v3/aes"
	sopsage "github.com/getsops/sops/v3/age"
	"github.com/getsops/sops/v3/keys"
	"github.com/getsops/sops/v3/keyservice"
	"github.com/getsops/sops/v3/stores"
	"gopkg.in/yaml.v3"
)

// EncryptedRegex selects what SOPS encrypts in a manifest; templates/flux's
// .sops.yaml says the same.
const EncryptedRegex = "^(data|stringData)$"

// sopsVersion is written into the files' metadata, as the sops CLI of the
// same library version writes it (its version package would pull in the
// CLI's dependencies).
const sopsVersion = "3.13.3"

// EncryptYAML encrypts the data and stringData of a YAML manifest (one
// document) for the given age recipients (any one of them can decrypt).
//
// The tree, the encryption, the MAC and the metadata are the sops library's;
// only the conversion between YAML and its tree is done here, because the
// library's YAML store drags in the sops CLI's publishing code (cloud
// storage clients), which would double groundwork's memory footprint.
func EncryptYAML(plain []byte, recipients ...string) ([]byte, error) {
	if len(recipients) == 0 {
		return nil, fmt.Errorf("sops: no age recipient to encrypt for")
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(plain, &doc); err != nil {
		return nil, fmt.Errorf("sops: read manifest: %w", err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("sops: the manifest must be one YAML mapping")
	}
	branch, err := toBranch(doc.Content[0])
	if err != nil {
		return nil, err
	}
	var group sops.KeyGroup
	for _, r := range recipients {
		k, err := sopsage.MasterKeyFromRecipient(r)
		if err != nil {
			return nil, fmt.Errorf("sops: age recipient %q: %w", r, err)
		}
		group = append(group, keys.MasterKey(k))
	}
	tree := sops.Tree{Branches: sops.TreeBranches{branch}, Metadata: sops.Metadata{
		KeyGroups: []sops.KeyGroup{group}, EncryptedRegex: EncryptedRegex, Version: sopsVersion,
	}}
	dataKey, errs := tree.GenerateDataKeyWithKeyServices([]keyservice.KeyServiceClient{keyservice.NewLocalClient()})
	if len(errs) > 0 {
		return nil, fmt.Errorf("sops: encrypt the data key: %v", errs)
	}
	// What the sops CLI does to encrypt a tree: values, then the MAC
	// bound to the modification time.
	cipher := aes.NewCipher()
	mac, err := tree.Encrypt(dataKey, cipher)
	if err != nil {
		return nil, fmt.Errorf("sops: encrypt: %w", err)
	}
	tree.Metadata.LastModified = time.Now().UTC()
	tree.Metadata.MessageAuthenticationCode, err = cipher.Encrypt(mac, dataKey, tree.Metadata.LastModified.Format(time.RFC3339))
	if err != nil {
		return nil, fmt.Errorf("sops: encrypt the MAC: %w", err)
	}
	branches, err := stores.SerializeMetadata(tree, stores.MetadataOpts{Flatten: stores.MetadataFlattenNone})
	if err != nil {
		return nil, fmt.Errorf("sops: metadata: %w", err)
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(4) // the sops CLI's default
	out := &yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{fromBranch(branches[0])}}
	if err := enc.Encode(out); err != nil {
		return nil, fmt.Errorf("sops: write: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// toBranch converts a YAML mapping into a sops tree, typing scalars as the
// sops YAML store does.
func toBranch(n *yaml.Node) (sops.TreeBranch, error) {
	var b sops.TreeBranch
	for i := 0; i+1 < len(n.Content); i += 2 {
		v, err := toValue(n.Content[i+1])
		if err != nil {
			return nil, err
		}
		b = append(b, sops.TreeItem{Key: n.Content[i].Value, Value: v})
	}
	return b, nil
}

func toValue(n *yaml.Node) (any, error) {
	switch n.Kind {
	case yaml.MappingNode:
		return toBranch(n)
	case yaml.SequenceNode:
		out := []any{}
		for _, c := range n.Content {
			v, err := toValue(c)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!int":
			return strconv.Atoi(n.Value)
		case "!!float":
			return strconv.ParseFloat(n.Value, 64)
		case "!!bool":
			return strconv.ParseBool(n.Value)
		case "!!null":
			return nil, nil
		}
		return n.Value, nil
	}
	return nil, fmt.Errorf("sops: unsupported YAML at line %d (anchors and aliases are not)", n.Line)
}

func fromBranch(b sops.TreeBranch) *yaml.Node {
	m := &yaml.Node{Kind: yaml.MappingNode}
	for _, item := range b {
		key, ok := item.Key.(string)
		if !ok {
			continue // comments
		}
		m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key}, fromValue(item.Value))
	}
	return m
}

func fromValue(v any) *yaml.Node {
	switch v := v.(type) {
	case sops.TreeBranch:
		return fromBranch(v)
	case []any:
		s := &yaml.Node{Kind: yaml.SequenceNode}
		for _, c := range v {
			s.Content = append(s.Content, fromValue(c))
		}
		return s
	case nil:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null"}
	case string:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v}
	case bool:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: strconv.FormatBool(v)}
	case int:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.Itoa(v)}
	case float64:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!float", Value: strconv.FormatFloat(v, 'g', -1, 64)}
	}
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: fmt.Sprint(v)}
}

// IsEncrypted reports whether a YAML document is a SOPS file (it has the
// sops metadata key at its top level).
func IsEncrypted(b []byte) bool {
	var doc yaml.Node
	if yaml.Unmarshal(b, &doc) != nil || doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return false
	}
	m := doc.Content[0]
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == stores.SopsMetadataKey {
			return true
		}
	}
	return false
}

// DecryptYAML decrypts a SOPS YAML file with any of the given age
// identities (AGE-SECRET-KEY-1... strings), checking its MAC, and returns
// the plaintext document. The plaintext is the caller's to keep in memory.
func DecryptYAML(enc []byte, identities ...string) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(enc, &doc); err != nil {
		return nil, fmt.Errorf("sops: read: %w", err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("sops: the file must be one YAML mapping")
	}
	branch, err := toBranch(doc.Content[0])
	if err != nil {
		return nil, err
	}
	branches, meta, err := stores.ExtractMetadata(sops.TreeBranches{branch}, stores.MetadataOpts{Flatten: stores.MetadataFlattenNone})
	if err != nil {
		return nil, fmt.Errorf("sops: metadata: %w", err)
	}
	var ids sopsage.ParsedIdentities
	if err := ids.Import(identities...); err != nil {
		return nil, fmt.Errorf("sops: age identities: %w", err)
	}
	var dataKey []byte
	for _, group := range meta.KeyGroups {
		for _, k := range group {
			ak, ok := k.(*sopsage.MasterKey)
			if !ok {
				continue
			}
			ids.ApplyToMasterKey(ak)
			if dataKey, err = ak.Decrypt(); err == nil {
				break
			}
		}
		if dataKey != nil {
			break
		}
	}
	if dataKey == nil {
		return nil, fmt.Errorf("sops: none of the given age keys can decrypt this file (it is encrypted for %s)", recipientsOf(meta))
	}
	tree := sops.Tree{Branches: branches, Metadata: meta}
	cipher := aes.NewCipher()
	mac, err := tree.Decrypt(dataKey, cipher)
	if err != nil {
		return nil, fmt.Errorf("sops: decrypt: %w", err)
	}
	stored, err := cipher.Decrypt(meta.MessageAuthenticationCode, dataKey, meta.LastModified.Format(time.RFC3339))
	if err != nil {
		return nil, fmt.Errorf("sops: decrypt the MAC: %w", err)
	}
	if stored != mac {
		return nil, fmt.Errorf("sops: MAC mismatch: the file was changed after it was encrypted")
	}
	var buf bytes.Buffer
	e := yaml.NewEncoder(&buf)
	e.SetIndent(2)
	if err := e.Encode(&yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{fromBranch(tree.Branches[0])}}); err != nil {
		return nil, err
	}
	return buf.Bytes(), e.Close()
}

// Recipients lists the age recipients a SOPS file is encrypted for.
func Recipients(enc []byte) ([]string, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(enc, &doc); err != nil || len(doc.Content) != 1 {
		return nil, fmt.Errorf("sops: not a YAML document")
	}
	branch, err := toBranch(doc.Content[0])
	if err != nil {
		return nil, err
	}
	_, meta, err := stores.ExtractMetadata(sops.TreeBranches{branch}, stores.MetadataOpts{Flatten: stores.MetadataFlattenNone})
	if err != nil {
		return nil, err
	}
	var out []string
	for _, g := range meta.KeyGroups {
		for _, k := range g {
			if ak, ok := k.(*sopsage.MasterKey); ok {
				out = append(out, ak.Recipient)
			}
		}
	}
	return out, nil
}

func recipientsOf(meta sops.Metadata) string {
	var out []string
	for _, g := range meta.KeyGroups {
		for _, k := range g {
			out = append(out, k.ToString())
		}
	}
	return strings.Join(out, ", ")
}
