package dashboard

// ClientAddr is clientAddr, for the login tests.
var ClientAddr = clientAddr
