// Package actions runs the ordered, idempotent steps (kind calls them actions) that make up groundwork
// commands such as up and rebuild.
//
// A Step can describe itself without side effects (Plan), tell whether its
// desired state is already in place (Check) and bring it about (Apply).
// Runner runs steps in order under a lock on the environment's state
// directory, skips those whose Check says they are done, and records every
// run in a Journal there, so that an interrupted or failed run can be resumed
// by running the same command again, and so that plan can say which steps
// the last run left undone.
package actions
