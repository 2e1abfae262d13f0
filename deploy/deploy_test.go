// Package deploy holds what an operator needs to run foureyes; its test keeps
// the shipped example configuration valid.
package deploy

import (
	"testing"

	"github.com/foureyes/foureyes/config"
)

func TestExampleConfigIsValid(t *testing.T) {
	c, err := config.Load("foureyes.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.ValidateGateway(); err != nil {
		t.Fatal(err)
	}
	if err := c.ValidateIngest(); err != nil {
		t.Fatal(err)
	}
}
