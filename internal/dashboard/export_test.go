package dashboard

// ClientAddr is clientAddr, for the login tests.
var ClientAddr = clientAddr

// Lasting is lasting, for the trouble section's tests.
var Lasting = lasting
