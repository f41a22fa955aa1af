package status

import "github.com/groundwork-dev/groundwork/internal/gitops"

// Notifications is what the cluster says of the notification targets, as
// the engine records deliveries (see gitops.Notifications).
type Notifications = gitops.Notifications

// Delivery is one target's last delivery.
type Delivery = gitops.Delivery

// What status can say of a notification target's last delivery.
const (
	DeliveryFailed     = gitops.DeliveryFailed
	DeliveryNoFailure  = gitops.DeliveryNoFailure
	DeliveryDelivered  = gitops.DeliveryDelivered
	DeliveryNone       = gitops.DeliveryNone
	DeliveryNotApplied = gitops.DeliveryNotApplied
)
