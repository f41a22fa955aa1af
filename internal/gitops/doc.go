// Package gitops is what groundwork knows of a GitOps engine (Flux, Argo
// CD) as one interface, Engine, and the one wait loop both engines share.
//
// An engine is told which objects point it at the repository (SyncObjects,
// Attach), says what Git declares for it to apply (Declared) and which
// version of its own chart Git declares (DeclaredChart), looks at how far
// it got (Look) and is waited for (Wait, with reasons when it does not get
// there: each object's, and the engine's own workloads that are not ready,
// a crash-looping controller being why nothing applies), and lets go of a
// cluster without deleting what it applied (Detach). The implementations are gitops/flux and gitops/argocd;
// gitops/engines picks one for an environment. No other package asks which
// engine an environment uses.
package gitops
