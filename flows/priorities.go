package flows

// Flow priorities shared by the tables. Every table has a default flow at priorityDefault;
// specific flows use priorityNormal, and exceptions that must win over them priorityHigh.
const (
	priorityDefault uint16 = 0
	priorityNormal  uint16 = 200
	priorityHigh    uint16 = 210
)
