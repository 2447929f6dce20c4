package ssh

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/vigie-agent/vigie/host/accounts"
)

// Account is a passwd(5) entry, as the accounts package reads it.
type Account = accounts.Account

// ExpandAuthorizedKeysFile turns one AuthorizedKeysFile pattern into a path
// for an account: %% is a literal %, %h the home directory, %u the user
// name, %U the numeric uid; a relative result is relative to the home.
func ExpandAuthorizedKeysFile(pattern string, a Account) (string, error) {
	var b strings.Builder
	for i := 0; i < len(pattern); i++ {
		c := pattern[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		i++
		if i >= len(pattern) {
			return "", fmt.Errorf("AuthorizedKeysFile %q ends with a lone %%", pattern)
		}
		switch pattern[i] {
		case '%':
			b.WriteByte('%')
		case 'h':
			b.WriteString(a.Home)
		case 'u':
			b.WriteString(a.Name)
		case 'U':
			b.WriteString(strconv.Itoa(a.UID))
		default:
			return "", fmt.Errorf("AuthorizedKeysFile %q: unknown token %%%c", pattern, pattern[i])
		}
	}
	p := b.String()
	if !strings.HasPrefix(p, "/") {
		p = strings.TrimSuffix(a.Home, "/") + "/" + p
	}
	return p, nil
}
