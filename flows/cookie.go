package flows

import "fmt"

// A flow cookie is laid out as round | category | object:
//
//	bits 63..48  round     changes on every Reconcile, so stale flows of earlier rounds can be deleted
//	bits 47..40  category  what kind of object owns the flow (Category)
//	bits 39..0   object    the owner's id, allocated by the Store
//
// Round 0 is never used by a Store after Reconcile, so foreign flows with cookie 0 always
// belong to a stale round.
const (
	roundShift    = 48
	categoryShift = 40

	// RoundMask selects the round of a cookie: all flows of a round.
	RoundMask uint64 = 0xffff << roundShift
	// CategoryMask selects the category of a cookie.
	CategoryMask uint64 = 0xff << categoryShift
	// ObjectIDMask selects the object id of a cookie.
	ObjectIDMask uint64 = 1<<categoryShift - 1
	// ObjectMask selects category and object id: all flows of one object, whatever the round.
	ObjectMask = CategoryMask | ObjectIDMask
	// MaxObjectID is the largest object id.
	MaxObjectID = ObjectIDMask
)

// Category says what kind of object owns a flow.
type Category uint8

// The categories of flow owners.
const (
	Pipeline Category = 1 // the node's static pipeline flows
	Pod      Category = 2
	Node     Category = 3
	Service  Category = 4
	Policy   Category = 5
)

// String returns the category's name, or "Category(n)" for an unknown one.
func (c Category) String() string {
	switch c {
	case Pipeline:
		return "Pipeline"
	case Pod:
		return "Pod"
	case Node:
		return "Node"
	case Service:
		return "Service"
	case Policy:
		return "Policy"
	}
	return fmt.Sprintf("Category(%d)", uint8(c))
}

// MakeCookie builds the cookie of an object's flows in a round. It panics if object does not fit
// in 40 bits.
func MakeCookie(round uint16, category Category, object uint64) uint64 {
	if object > MaxObjectID {
		panic(fmt.Sprintf("flows: object id %#x does not fit in 40 bits", object))
	}
	return uint64(round)<<roundShift | uint64(category)<<categoryShift | object
}

// ParseCookie splits a cookie into round, category and object id.
func ParseCookie(cookie uint64) (round uint16, category Category, object uint64) {
	return uint16(cookie >> roundShift), Category(cookie >> categoryShift), cookie & ObjectIDMask
}

// RoundCookie returns the cookie and mask that select all flows of a round
// (for del-flows cookie=value/mask).
func RoundCookie(round uint16) (cookie, mask uint64) {
	return uint64(round) << roundShift, RoundMask
}

// ObjectCookie returns the cookie and mask that select all flows of one object in every round.
func ObjectCookie(category Category, object uint64) (cookie, mask uint64) {
	return MakeCookie(0, category, object), ObjectMask
}
