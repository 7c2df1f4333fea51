package keyring_test

import (
	"fmt"

	"insure/internal/keyring"
)

func ExampleNameTokens() {
	fmt.Println(keyring.NameTokens("Ana-María O'Neil ana"))
	// Output: [ana maría o neil]
}

// A name search looks rows up by the blind index of each token, computed
// the same way when the row was written.
func ExampleKeyring_BlindIndex() {
	master, err := keyring.NewMasterKey()
	if err != nil {
		panic(err)
	}
	k := keyring.New(nil, master, nil) // blind indexes need no database
	stored := k.BlindIndex(keyring.KindEmail, "ana@example.com")
	query := k.BlindIndex(keyring.KindEmail, "ana@example.com")
	fmt.Println(stored == query, len(stored))
	// Output: true 64
}
