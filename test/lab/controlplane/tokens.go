package controlplane

import (
	"crypto/rand"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
)

// tokenUser is one line of the apiserver's static token file (--token-auth-file).
type tokenUser struct {
	Token  string
	Name   string
	Groups []string
}

// The static users of the lab. RBAC's bootstrap policy already binds the controller-manager and scheduler users
// to their roles; admin is a cluster admin through system:masters.
var staticUsers = []tokenUser{
	{Name: "admin", Groups: []string{"system:masters"}},
	{Name: "system:kube-controller-manager"},
	{Name: "system:kube-scheduler"},
}

// loadOrCreateTokens reads the token file, or writes a new one with a random token for each static user.
// Keeping existing tokens lets kubeconfigs handed out earlier survive a restart from the same Dir.
func loadOrCreateTokens(path string) (map[string]tokenUser, error) {
	users, err := readTokens(path)
	if err == nil {
		for _, u := range staticUsers {
			if _, ok := users[u.Name]; !ok {
				return nil, fmt.Errorf("token file %s has no token for %q", path, u.Name)
			}
		}
		return users, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	users = map[string]tokenUser{}
	var b strings.Builder
	w := csv.NewWriter(&b)
	for _, u := range staticUsers {
		if u.Token, err = randomToken(); err != nil {
			return nil, err
		}
		users[u.Name] = u
		// Format: token,user,uid,"group1,group2"
		if err := w.Write([]string{u.Token, u.Name, u.Name, strings.Join(u.Groups, ",")}); err != nil {
			return nil, fmt.Errorf("encode token file: %w", err)
		}
	}
	w.Flush()
	if err := writeFile(path, []byte(b.String()), 0o600); err != nil {
		return nil, err
	}
	return users, nil
}

// readTokens parses a static token file into users by name.
func readTokens(path string) (map[string]tokenUser, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	records, err := r.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("parse token file %s: %w", path, err)
	}
	users := map[string]tokenUser{}
	for i, rec := range records {
		if len(rec) < 3 {
			return nil, fmt.Errorf("token file %s line %d: want token,user,uid[,groups], got %d fields", path, i+1, len(rec))
		}
		u := tokenUser{Token: rec[0], Name: rec[1]}
		if len(rec) > 3 && rec[3] != "" {
			u.Groups = strings.Split(rec[3], ",")
		}
		users[u.Name] = u
	}
	return users, nil
}

// randomToken returns 32 random hex characters.
func randomToken() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("random token: %w", err)
	}
	return hex.EncodeToString(b), nil
}
